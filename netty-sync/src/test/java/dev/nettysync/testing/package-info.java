/**
 * Test support shared by every module's tests through the library's test-jar: BlockHound for the
 * whole run, the probe each module's {@code BlockHoundActiveTest} runs to prove it, a JUnit
 * extension that fails a test during which an event loop blocked, test executors, one event loop
 * per test class ({@link dev.nettysync.testing.ClassEventLoop}), polling for what other threads
 * do ({@link dev.nettysync.testing.Poll}), a limiter a
 * test scripts ({@link dev.nettysync.testing.AnsweringLimiter}), what a class logs
 * ({@link dev.nettysync.testing.LogCapture}), and
 * {@link dev.nettysync.testing.StressRun}, the loops, threads and bookkeeping of a randomized
 * stress test.
 */
package dev.nettysync.testing;
