package dev.nettysync.redis;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The test support's own contract: a {@link RedisServer} does not outlive the JVM that started
 * it, however that JVM ends. A JVM that exits runs the exit hook; one that is killed (SIGKILL)
 * or halted ({@code Runtime.halt}, as PIT ends a timed-out minion) runs nothing, and its servers
 * used to stay (55 after two PIT runs on this module). Each test starts a child JVM that starts
 * a server and ends so, then waits for the server's process to go.
 */
class RedisServerTest {

    /** The child JVM: starts a server, prints its port and pid, then ends as {@code args[0]} says. */
    public static void main(String[] args) throws Exception {
        RedisServer server = RedisServer.start();
        System.out.println(server.port() + " " + server.pid());
        System.out.flush();
        if (args[0].equals("halt")) {
            Runtime.getRuntime().halt(3);
        }
        Thread.sleep(TimeUnit.MINUTES.toMillis(10));      // until the test kills it
    }

    @Test
    void aServerEndsWithAJvmThatIsKilled() throws Exception {
        assertTheServerEndsWithItsJvm("kill");
    }

    @Test
    void aServerEndsWithAJvmThatHalts() throws Exception {
        assertTheServerEndsWithItsJvm("halt");
    }

    private static void assertTheServerEndsWithItsJvm(String how) throws Exception {
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), RedisServerTest.class.getName(), how)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        long serverPid = -1;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertThat(line).as("the child started a server").isNotNull().matches("\\d+ \\d+");
            serverPid = Long.parseLong(line.split(" ")[1]);
            assertThat(ProcessHandle.of(serverPid).map(ProcessHandle::isAlive)).as("the server runs").contains(true);
            if (how.equals("kill")) {
                child.destroyForcibly();                                    // SIGKILL: no hook runs
            }
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).as("the child ended").isTrue();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            Optional<ProcessHandle> server = ProcessHandle.of(serverPid);
            while (server.isPresent() && server.get().isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(server.isPresent() && server.get().isAlive())
                    .as("redis-server %d ended with the JVM that started it (%s)", serverPid, how).isFalse();
        } finally {
            child.destroyForcibly();
            if (serverPid > 0) {
                ProcessHandle.of(serverPid).ifPresent(ProcessHandle::destroyForcibly);   // left by a failure
            }
        }
    }
}
