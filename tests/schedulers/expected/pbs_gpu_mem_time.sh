#!/bin/bash
#PBS -N job-gpu_mem_time
#PBS -l nodes=1:ppn=4:gpus=2
#PBS -l mem=8192mb
#PBS -l walltime=01:30:00
#PBS -j oe
#PBS -o job-gpu_mem_time.out
set -e
echo one
echo two
