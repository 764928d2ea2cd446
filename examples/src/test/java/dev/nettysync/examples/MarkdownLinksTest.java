package dev.nettysync.examples;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every relative link of the repository's Markdown pages (the front page, {@code docs/}, each
 * module's README, the changelog) points to a file or directory that exists, and a link's
 * {@code #anchor} to a heading of the page it names (GitHub's heading ids). External links
 * ({@code https:}, {@code mailto:}) are not followed: this test needs no network.
 *
 * <p>Links are read outside fenced code blocks and inline code spans, in both forms:
 * {@code [text](target)} and reference definitions {@code [label]: target}. Generated pages
 * ({@code target/}) and published benchmark results ({@code bench/results/}, frozen with their
 * run) are not checked.
 */
class MarkdownLinksTest {

    private static final Pattern INLINE_LINK = Pattern.compile("\\]\\(\\s*<?([^)\\s>]+)>?(?:\\s+\"[^\"]*\")?\\s*\\)");
    private static final Pattern REFERENCE_DEFINITION = Pattern.compile("^\\s{0,3}\\[[^\\]]+\\]:\\s*<?(\\S+?)>?(?:\\s.*)?$");
    private static final Pattern INLINE_CODE = Pattern.compile("(`+).*?\\1");
    private static final Pattern HEADING = Pattern.compile("^#{1,6}\\s+(.*?)\\s*#*\\s*$");
    private static final Pattern SCHEME = Pattern.compile("^[a-zA-Z][a-zA-Z0-9+.-]*:");

    @Test
    void everyRelativeLinkOfTheMarkdownPagesPointsToAnExistingFileAndHeading() throws IOException {
        Path root = repositoryRoot();
        List<Path> pages = markdownPages(root);
        assertThat(pages).as("Markdown pages found under %s", root)
                .contains(root.resolve("README.md"), root.resolve("docs/primitives.md"),
                        root.resolve("demo-server/README.md"), root.resolve("bench/README.md"));

        List<String> broken = new ArrayList<>();
        Map<Path, Set<String>> anchorsByPage = new HashMap<>();
        int checked = 0;
        for (Path page : pages) {
            for (Link link : links(page)) {
                checked++;
                String problem = check(root, page, link.target(), anchorsByPage);
                if (problem != null) {
                    broken.add(root.relativize(page) + ":" + link.line() + ": (" + link.target() + ") " + problem);
                }
            }
        }
        assertThat(checked).as("relative links checked").isGreaterThan(50);
        assertThat(broken).as("broken relative links").isEmpty();
    }

    @Test
    void theCheckerFindsABrokenFileAndABrokenAnchor() throws IOException {
        Path dir = Files.createTempDirectory("md-links");
        try {
            Files.writeString(dir.resolve("a.md"), "# Title\n\n## When Redis is down\n\ntext\n");
            Map<Path, Set<String>> anchors = new HashMap<>();
            Path page = dir.resolve("page.md");
            Files.writeString(page, "# Page\n");
            assertThat(check(dir, page, "a.md", anchors)).isNull();
            assertThat(check(dir, page, "a.md#when-redis-is-down", anchors)).isNull();
            assertThat(check(dir, page, "#page", anchors)).isNull();
            assertThat(check(dir, page, "#nowhere", anchors)).contains("no heading");
            assertThat(check(dir, page, "missing.md", anchors)).contains("no such file");
            assertThat(check(dir, page, "a.md#when-redis-is-up", anchors)).contains("no heading");
            assertThat(check(dir, page, "../outside.md", anchors)).contains("outside the repository");
            assertThat(anchorsOf(List.of("# Issue 14: before/after (limiters, Redis)", "## Tests", "## Tests")))
                    .contains("issue-14-beforeafter-limiters-redis", "tests", "tests-1");
            assertThat(links(List.of("see [a](a.md) and `[b](b.md)`", "```", "[c](c.md)", "```",
                    "[ref]: d.md \"title\"", "[e](https://example.com)")))
                    .extracting(Link::target).containsExactly("a.md", "d.md");
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted((x, y) -> y.compareTo(x)).forEach(p -> p.toFile().delete());
            }
        }
    }

    record Link(int line, String target) { }

    /** The directory holding the parent pom: the tests run in {@code examples/}. */
    private static Path repositoryRoot() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("README.md")) && Files.isDirectory(d.resolve("docs"))
                    && Files.isRegularFile(d.resolve("pom.xml"))) {
                return d;
            }
        }
        throw new AssertionError("no repository root (README.md, docs/, pom.xml) above " + dir);
    }

    private static List<Path> markdownPages(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(p -> p.toString().endsWith(".md") && Files.isRegularFile(p))
                    .filter(p -> {
                        String rel = root.relativize(p).toString().replace('\\', '/');
                        return !rel.startsWith(".") && !rel.contains("/.") && !rel.contains("target/")
                                && !rel.startsWith("bench/results/") && !rel.contains("node_modules/");
                    })
                    .sorted()
                    .toList();
        }
    }

    private static List<Link> links(Path page) throws IOException {
        return links(Files.readAllLines(page, StandardCharsets.UTF_8));
    }

    static List<Link> links(List<String> lines) {
        List<Link> links = new ArrayList<>();
        boolean fenced = false;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.stripLeading().startsWith("```") || line.stripLeading().startsWith("~~~")) {
                fenced = !fenced;
                continue;
            }
            if (fenced) {
                continue;
            }
            String text = INLINE_CODE.matcher(line).replaceAll("");
            List<String> targets = new ArrayList<>();
            Matcher inline = INLINE_LINK.matcher(text);
            while (inline.find()) {
                targets.add(inline.group(1));
            }
            Matcher reference = REFERENCE_DEFINITION.matcher(text);
            if (reference.matches()) {
                targets.add(reference.group(1));
            }
            for (String target : targets) {
                if (!SCHEME.matcher(target).find() && !target.startsWith("//")) {
                    links.add(new Link(i + 1, target));
                }
            }
        }
        return links;
    }

    /** Null if {@code target}, written in {@code page}, resolves; else what is wrong. */
    static String check(Path root, Path page, String target, Map<Path, Set<String>> anchorsByPage) {
        int hash = target.indexOf('#');
        String file = hash < 0 ? target : target.substring(0, hash);
        String anchor = hash < 0 ? null : target.substring(hash + 1);
        Path resolved = file.isEmpty() ? page
                : page.getParent().resolve(URLDecoder.decode(file, StandardCharsets.UTF_8)).normalize();
        if (!resolved.startsWith(root)) {
            return "points outside the repository";
        }
        if (!file.isEmpty() && !Files.exists(resolved)) {
            return "no such file: " + root.relativize(resolved);
        }
        if (anchor == null || anchor.isEmpty() || !resolved.toString().endsWith(".md") || !Files.isRegularFile(resolved)) {
            return null;
        }
        Set<String> anchors = anchorsByPage.computeIfAbsent(resolved, p -> {
            try {
                return anchorsOf(Files.readAllLines(p, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        String wanted = URLDecoder.decode(anchor, StandardCharsets.UTF_8).toLowerCase(Locale.ROOT);
        return anchors.contains(wanted) ? null : "no heading with id #" + anchor + " in " + root.relativize(resolved);
    }

    /** GitHub's heading ids: lower case, punctuation dropped, spaces to '-', repeats numbered. */
    static Set<String> anchorsOf(List<String> lines) {
        Set<String> ids = new HashSet<>();
        Map<String, Integer> seen = new HashMap<>();
        boolean fenced = false;
        for (String line : lines) {
            if (line.stripLeading().startsWith("```") || line.stripLeading().startsWith("~~~")) {
                fenced = !fenced;
                continue;
            }
            Matcher heading = HEADING.matcher(line);
            if (fenced || !heading.matches()) {
                continue;
            }
            String text = heading.group(1).replaceAll("\\[([^\\]]*)\\]\\([^)]*\\)", "$1");
            String id = text.toLowerCase(Locale.ROOT)
                    .replaceAll("[^\\p{L}\\p{N}\\p{M}\\p{Pc} -]", "")
                    .replace(' ', '-');
            int n = seen.merge(id, 1, Integer::sum) - 1;
            ids.add(n == 0 ? id : id + "-" + n);
        }
        return ids;
    }
}
