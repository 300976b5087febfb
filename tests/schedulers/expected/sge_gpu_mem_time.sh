#!/bin/bash
#$ -N job-gpu_mem_time
#$ -cwd
#$ -pe smp 4
#$ -l gpu=2
#$ -l h_vmem=2048M
#$ -l h_rt=01:30:00
#$ -j y
#$ -o job-gpu_mem_time.out
set -e
echo one
echo two
