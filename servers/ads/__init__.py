"""The ad after its auction: the served-ad record and what its feedback costs."""
