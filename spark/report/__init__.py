"""The bill report: the bill for every ad displayed and the BI views (docs/design.md rule 10).

`adplatform report` runs it (clients/report_commands.py); spark/report/job.py does the work.
"""
