"""Scale-out (``pip install 'deepad[ray]'``): ``score`` runs a bundle over Parquet or CSV
files with Ray Data, on this machine or a cluster; ``fit`` trains a torch table detector
data-parallel on Ray Train; ``sample_rows`` draws a uniform sample of rows over many files
for detectors that train on one machine."""

from deepad.distributed.sampling import sample_rows
from deepad.distributed.scoring import input_files, score
from deepad.distributed.training import fit

__all__ = ["fit", "input_files", "sample_rows", "score"]
