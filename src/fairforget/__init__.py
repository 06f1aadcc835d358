"""fairforget: why does debiasing a language model cost downstream performance?"""

__version__ = "0.1.0"
