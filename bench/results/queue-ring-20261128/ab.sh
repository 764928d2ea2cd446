#!/bin/bash
# A/B/C of the wait queue's stores: before (main), lifo, ring; 3 rounds, builds alternated.
cd /tmp/prof
out=/tmp/prof/ab; mkdir -p $out
J="-wi 3 -w 1s -i 5 -r 1s -f 1"
for round in 1 2 3; do
  for j in before lifo ring; do
    java -jar $j.jar 'DeepQueueBenchmark.releaseAndRequeue' -p impl=nettysync -p depth=10,1000000 $J -rf json -rff $out/rr-g1-$j-$round.json > $out/rr-g1-$j-$round.log 2>&1
    java -jar $j.jar 'DeepQueueBenchmark.releaseAndRequeue' -p impl=nettysync -p depth=10 $J -jvmArgsAppend -XX:+UseParallelGC -rf json -rff $out/rr-par-$j-$round.json > $out/rr-par-$j-$round.log 2>&1
    java -jar $j.jar 'SameLoopHandoffBenchmark' -p impl=nettysync -p waiters=16 $J -rf json -rff $out/sl-$j-$round.json > $out/sl-$j-$round.log 2>&1
    java -jar $j.jar 'DeepQueueBenchmark.cancelAndRequeue' -p impl=nettysync -p depth=10,1000000 $J -rf json -rff $out/cr-$j-$round.json > $out/cr-$j-$round.log 2>&1
  done
  java -jar before.jar 'DeepQueueBenchmark.releaseAndRequeue' -p impl=naive,floorAtomic -p depth=10 $J -rf json -rff $out/rr-g1-peers-$round.json > $out/rr-g1-peers-$round.log 2>&1
  java -jar before.jar 'DeepQueueBenchmark.releaseAndRequeue' -p impl=naive,floorAtomic -p depth=10 $J -jvmArgsAppend -XX:+UseParallelGC -rf json -rff $out/rr-par-peers-$round.json > $out/rr-par-peers-$round.log 2>&1
  java -jar before.jar 'SameLoopHandoffBenchmark' -p impl=naive -p waiters=16 $J -rf json -rff $out/sl-peers-$round.json > $out/sl-peers-$round.log 2>&1
done
echo done > $out/DONE
