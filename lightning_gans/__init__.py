"""lightning-gans: the classic GAN family as PyTorch Lightning modules."""

__version__ = "0.1.0"
