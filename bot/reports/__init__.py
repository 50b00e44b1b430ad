"""The system of record and what it teaches: metrics (pure), CSV export, charts, and the
service that gathers rows and posts `/cs-report`."""
