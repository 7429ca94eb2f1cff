"""The process itself: the supervisor of its tasks, the start-up heap."""
