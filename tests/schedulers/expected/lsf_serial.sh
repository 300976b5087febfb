#!/bin/bash
#BSUB -J job-serial
#BSUB -n 1
#BSUB -o job-serial.out
set -e
echo one
echo two
