"""The cascade simulator: scenarios, the kernel (phase order per timestamp) and run folders."""
