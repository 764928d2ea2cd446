package dev.nettysync.examples;

import dev.nettysync.examples.support.ExampleLoops;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

class StartupCoordinationTest {

    @RegisterExtension
    static final ExampleLoops loops = ExampleLoops.warmingUp(StartupCoordination::run);

    @Test
    void everyoneWaitsForTheDatabaseAndAllGoOnOnceItIsReady() {
        var run = ExampleRuns.run(loops.group(), StartupCoordination::run);
        int ready = run.indexOf("DB: ready!");
        for (String waiting : new String[] {"Server: waiting", "Worker-1: waiting", "Worker-2: waiting"}) {
            assertThat(run.indexOf(waiting)).as(waiting).isLessThan(ready);
        }
        for (String going : new String[] {"Server: database is ready", "Worker-1: processing", "Worker-2: processing"}) {
            assertThat(run.indexOf(going)).as(going + "; timeline:%n%s", run.timeline()).isGreaterThan(ready);
        }
        assertThat(run.indexOf("Server: handled a request")).isEqualTo(run.messages().size() - 1);
        // the waiters went on when the event was set, not later: within 0.5 tutorial s of it
        double readyAt = run.timeline().entries().get(ready).seconds();
        double lastWorker = Math.max(run.timeline().entries().get(run.indexOf("Worker-1: processing")).seconds(),
                run.timeline().entries().get(run.indexOf("Worker-2: processing")).seconds());
        assertThat(lastWorker - readyAt).isLessThan(0.5 * ExampleRuns.SCALE + 0.5);
        run.tookAbout(3.0);
    }
}
