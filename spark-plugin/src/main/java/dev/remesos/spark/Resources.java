package dev.remesos.spark;

import java.util.ArrayList;
import java.util.List;

import org.apache.mesos.Protos;

/** Scalar arithmetic over an offer's resources, keeping each resource's role and reservation. */
final class Resources {
    private Resources() {
    }

    /** Total of the scalar resource {@code name} in {@code resources} (all roles). */
    static double scalar(List<Protos.Resource> resources, String name) {
        double total = 0;
        for (Protos.Resource r : resources) {
            if (r.getName().equals(name) && r.hasScalar()) {
                total += r.getScalar().getValue();
            }
        }
        return total;
    }

    /**
     * Takes {@code amount} of {@code name} out of {@code remaining} (which shrinks) and returns
     * the pieces taken: copies of the offered resources with the amount changed, so role,
     * reservation and allocation info stay as the master offered them.
     */
    static List<Protos.Resource> take(List<Protos.Resource> remaining, String name, double amount) {
        List<Protos.Resource> taken = new ArrayList<>();
        double need = amount;
        for (int i = 0; i < remaining.size() && need > 1e-9; i++) {
            Protos.Resource r = remaining.get(i);
            if (!r.getName().equals(name) || !r.hasScalar()) {
                continue;
            }
            double have = r.getScalar().getValue();
            double use = Math.min(have, need);
            if (use <= 0) {
                continue;
            }
            taken.add(r.toBuilder().setScalar(Protos.Value.Scalar.newBuilder().setValue(use)).build());
            need -= use;
            remaining.set(i, r.toBuilder()
                    .setScalar(Protos.Value.Scalar.newBuilder().setValue(have - use)).build());
        }
        if (need > 1e-9) {
            throw new IllegalArgumentException("offer lacks " + need + " " + name);
        }
        return taken;
    }
}
