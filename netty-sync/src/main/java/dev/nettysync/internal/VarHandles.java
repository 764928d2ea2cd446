package dev.nettysync.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/** Finding the VarHandle of a field, in one place, for the classes that CAS or fence a field. */
public final class VarHandles {
    private VarHandles() {
    }

    /**
     * The VarHandle of field {@code name} of type {@code type} in the class {@code lookup} was
     * made in ({@code MethodHandles.lookup()} in a static initializer).
     *
     * @throws ExceptionInInitializerError if there is no such field (a bug, found at class load)
     */
    public static VarHandle field(MethodHandles.Lookup lookup, String name, Class<?> type) {
        try {
            return lookup.findVarHandle(lookup.lookupClass(), name, type);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
