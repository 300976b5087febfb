#!/bin/bash
#PBS -N job-openmp
#PBS -l nodes=1:ppn=8
#PBS -l walltime=00:15:00
#PBS -j oe
#PBS -o job-openmp.out
export OMP_NUM_THREADS=4
set -e
echo one
echo two
