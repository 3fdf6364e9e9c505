"""What runs the package inside the Snakemake workflow: the job-script adapter and the stages' code digests."""
