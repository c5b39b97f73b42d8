"""The logger role: recorded segments and events, camera tasks, status, realtime."""
