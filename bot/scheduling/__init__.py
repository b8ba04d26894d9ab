"""When things happen: the APScheduler instance and the due-timers dispatcher."""
