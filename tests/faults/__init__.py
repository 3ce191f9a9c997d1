"""Faults injected on purpose: full disks, killed runs, hostile servers, listeners who leave."""
