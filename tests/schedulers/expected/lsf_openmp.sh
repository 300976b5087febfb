#!/bin/bash
#BSUB -J job-openmp
#BSUB -n 8
#BSUB -W 00:15
#BSUB -o job-openmp.out
export OMP_NUM_THREADS=4
set -e
echo one
echo two
