#!/bin/bash
#$ -N job-serial
#$ -cwd
#$ -j y
#$ -o job-serial.out
set -e
echo one
echo two
