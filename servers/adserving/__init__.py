"""Ad serving: targeting eligibility and the second-price auction."""
