"""Scale-out on Ray (``pip install 'deepad[ray]'``): ``score`` runs a bundle over Parquet or
CSV files with Ray Data, on this machine or a cluster."""

from deepad.distributed.scoring import input_files, score

__all__ = ["input_files", "score"]
