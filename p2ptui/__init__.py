"""p2ptui: explore and operate PCIe peer-to-peer DMA fabrics on Linux."""

__version__ = "0.1.0"
