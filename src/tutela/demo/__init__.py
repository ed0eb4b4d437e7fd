"""The demo behind `make run`: generated benign pictures, a demo bank, a scan of transformed copies."""

from tutela.demo.run import DEMO_BANK, DemoResult, run_demo

__all__ = ["DEMO_BANK", "DemoResult", "run_demo"]
