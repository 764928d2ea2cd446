package dev.nettysync.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One Lua script: its text (read from this package's resources, with an optional shared head)
 * and its SHA-1. {@link #run} sends {@code EVALSHA}; if the server answers {@code NOSCRIPT}
 * (restarted, {@code SCRIPT FLUSH}, failed over) it sends {@code EVAL} with the text, which runs
 * the script and caches it again, so the next call is an {@code EVALSHA} once more. One round
 * trip in the common case, two after a flush.
 *
 * <p>Immutable and thread-safe.
 */
final class Script {

    private final String name;
    private final String text;
    private final String sha;

    private Script(String name, String text) {
        this.name = name;
        this.text = text;
        this.sha = sha1(text);
    }

    /** Loads {@code resources} (in this package) in order and joins them into one script. */
    static Script load(String name, String... resources) {
        StringBuilder text = new StringBuilder();
        for (String resource : resources) {
            try (InputStream in = Script.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IllegalStateException("missing script resource " + resource);
                }
                text.append(new String(in.readAllBytes(), StandardCharsets.UTF_8)).append('\n');
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read script resource " + resource, e);
            }
        }
        return new Script(name, text.toString());
    }

    String name() {
        return name;
    }

    String sha() {
        return sha;
    }

    String text() {
        return text;
    }

    /**
     * Runs the script: {@code EVALSHA}, falling back to {@code EVAL} on {@code NOSCRIPT}. The
     * returned stage completes on Lettuce's I/O thread; callers must not block in its callbacks.
     */
    <T> CompletionStage<T> run(RedisAsyncCommands<String, String> redis, ScriptOutputType type,
                               String[] keys, String... args) {
        CompletableFuture<T> result = new CompletableFuture<>();
        redis.<T>evalsha(sha, type, keys, args).whenComplete((value, error) -> {
            if (error == null) {
                result.complete(value);
            } else if (error instanceof RedisNoScriptException) {
                redis.<T>eval(text, type, keys, args).whenComplete((v, e) -> {
                    if (e == null) {
                        result.complete(v);
                    } else {
                        result.completeExceptionally(e);
                    }
                });
            } else {
                result.completeExceptionally(error);
            }
        });
        return result;
    }

    private static String sha1(String text) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            return HexFormat.of().formatHex(md.digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 missing from this JVM", e);
        }
    }

    @Override
    public String toString() {
        return name + "(" + sha + ")";
    }
}
