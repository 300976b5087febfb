#!/bin/bash
#$ -N job-openmp
#$ -cwd
#$ -pe smp 8
#$ -l h_rt=00:15:00
#$ -j y
#$ -o job-openmp.out
export OMP_NUM_THREADS=4
set -e
echo one
echo two
