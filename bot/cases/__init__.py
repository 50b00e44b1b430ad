"""Risk cases: from a reported risk to a planned case (report) and its execution (engine)."""
