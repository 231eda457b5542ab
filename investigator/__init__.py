"""investigator: why did this training job fail, and how do I reproduce it?"""

__version__ = "0.1.0"
