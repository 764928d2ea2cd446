package dev.nettysync.demo;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --help} and the README's configuration table name the same flags, with the same
 * environment variables: a flag added to one and not the other fails here. And the help text
 * has no empty {@code Default:} line (a flag whose default is "none" shows none).
 */
class DemoConfigHelpTest {

    /** A row of the README's table: {@code | `--flag` | `DEMO_FLAG` | default | meaning |}. */
    private static final Pattern ROW = Pattern.compile("^\\| `(--[a-z-]+)` \\| `(DEMO_[A-Z_]+)` \\|", Pattern.MULTILINE);

    @Test
    void everyFlagOfHelpIsInTheReadmeTableAndEveryRowIsAFlag() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Set<String> documented = new TreeSet<>();
        Set<String> documentedEnv = new TreeSet<>();
        Matcher m = ROW.matcher(readme);
        while (m.find()) {
            documented.add(m.group(1));
            documentedEnv.add(m.group(1) + " " + m.group(2));
        }
        CommandLine cl = new CommandLine(new DemoConfig());
        Set<String> flags = new TreeSet<>();
        for (OptionSpec option : cl.getCommandSpec().options()) {
            if (!option.usageHelp() && !option.versionHelp()) {   // --help, --version: in the exit-status table
                flags.add(option.longestName());
            }
        }
        Set<String> flagEnv = new TreeSet<>();
        for (Field field : DemoConfig.class.getDeclaredFields()) {
            CommandLine.Option option = field.getAnnotation(CommandLine.Option.class);
            if (option == null) {
                continue;
            }
            String name = option.names()[option.names().length - 1];
            Matcher env = Pattern.compile("\\$\\{env:(DEMO_[A-Z_]+)").matcher(option.defaultValue());
            assertThat(env.find()).as("%s reads an environment variable", name).isTrue();
            flagEnv.add(name + " " + env.group(1));
        }
        assertThat(documented).as("flags in README.md's configuration table vs --help").isEqualTo(flags);
        assertThat(documentedEnv).as("environment variables in README.md vs the flags' defaults").isEqualTo(flagEnv);
    }

    @Test
    void helpHasNoEmptyDefaultLine() {
        String usage = new CommandLine(new DemoConfig()).getUsageMessage(CommandLine.Help.Ansi.OFF);
        assertThat(usage).contains("--backend-capacity-schedule").doesNotContainPattern("Default:\\s*\\n");
    }
}
