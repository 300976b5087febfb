#!/bin/bash
#SBATCH --job-name=job-openmp
#SBATCH --ntasks=2
#SBATCH --cpus-per-task=4
#SBATCH --time=00:15:00
#SBATCH --output=job-openmp.out
export OMP_NUM_THREADS=4
set -e
echo one
echo two
