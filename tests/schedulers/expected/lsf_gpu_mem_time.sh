#!/bin/bash
#BSUB -J job-gpu_mem_time
#BSUB -n 4
#BSUB -gpu "num=2"
#BSUB -M 8192MB
#BSUB -W 01:30
#BSUB -o job-gpu_mem_time.out
set -e
echo one
echo two
