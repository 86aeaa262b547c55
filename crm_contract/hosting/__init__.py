"""The reference server hosted: in this process on a loopback port (`embedded`), in the foreground as a
mock (`serving`), and behind a proxy that injects infrastructure faults (`fault_proxy`)."""
