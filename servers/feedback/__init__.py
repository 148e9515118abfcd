"""Feedback: turning a user action into a charge against a campaign budget."""
