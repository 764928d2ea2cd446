/**
 * Test support shared by every module's tests through the library's test-jar: BlockHound for the
 * whole run, the probe each module's {@code BlockHoundActiveTest} runs to prove it, and a JUnit
 * extension that fails a test during which an event loop blocked.
 */
package dev.nettysync.testing;
