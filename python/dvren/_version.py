__version__ = "0.1.0"  # the package version: equal to dvren.h DVREN_VERSION_* (python/tests check it)
