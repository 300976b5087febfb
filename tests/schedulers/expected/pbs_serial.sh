#!/bin/bash
#PBS -N job-serial
#PBS -l nodes=1:ppn=1
#PBS -j oe
#PBS -o job-serial.out
set -e
echo one
echo two
