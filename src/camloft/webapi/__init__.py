"""HTTP plumbing every server role shares: token extraction and the error answers."""
