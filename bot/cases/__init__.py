"""Risk cases: from a reported risk to a planned case (planning) and its execution (engine)."""
