"""Developer tools run with ``python -m workbench.tools.<name>``: building the built-in emoji
data from Debian packages, checking every preset, comparing quality with scikit-learn,
checking multi-process training (ddp_check), loading and training at scale (scale_check)
and long training with live views (soak).
Nothing in the application imports them."""
