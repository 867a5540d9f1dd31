"""What each model accepts and which checks run before any upstream call."""
