#!/bin/bash
#SBATCH --job-name=job-serial
#SBATCH --ntasks=1
#SBATCH --output=job-serial.out
set -e
echo one
echo two
