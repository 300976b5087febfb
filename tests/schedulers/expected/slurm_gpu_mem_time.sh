#!/bin/bash
#SBATCH --job-name=job-gpu_mem_time
#SBATCH --ntasks=4
#SBATCH --gpus=2
#SBATCH --mem=8192M
#SBATCH --time=01:30:00
#SBATCH --output=job-gpu_mem_time.out
set -e
echo one
echo two
