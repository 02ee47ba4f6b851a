"""Developer tools run with ``python -m workbench.tools.<name>``: building the built-in emoji
data from Debian packages, checking every preset, comparing quality with scikit-learn.
Nothing in the application imports them."""
