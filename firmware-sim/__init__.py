"""Every bedwatch device in software, speaking the same bytes as the real one."""
