package dev.remesos.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.mesos.Protos;

/**
 * {@code spark.mesos.constraints}: {@code attr:v1,v2;attr2:v;attr3}. An offer matches when
 * every named attribute is present on the agent and, when values are given, one of them
 * satisfies it: a text attribute equals it, a scalar attribute is at least it, a range
 * attribute contains it; a set attribute must contain all the values.
 */
final class Constraints {
    private final Map<String, List<String>> required;

    private Constraints(Map<String, List<String>> required) {
        this.required = required;
    }

    static Constraints parse(String text) {
        Map<String, List<String>> required = new LinkedHashMap<>();
        for (String part : text.split(";")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int colon = p.indexOf(':');
            if (colon < 0) {
                required.put(p, List.of());
            } else {
                List<String> values = new ArrayList<>();
                for (String v : Arrays.asList(p.substring(colon + 1).split(","))) {
                    if (!v.trim().isEmpty()) {
                        values.add(v.trim());
                    }
                }
                required.put(p.substring(0, colon).trim(), values);
            }
        }
        return new Constraints(required);
    }

    boolean matches(List<Protos.Attribute> attributes) {
        for (Map.Entry<String, List<String>> want : required.entrySet()) {
            Protos.Attribute found = null;
            for (Protos.Attribute a : attributes) {
                if (a.getName().equals(want.getKey())) {
                    found = a;
                }
            }
            if (found == null) {
                return false;
            }
            List<String> values = want.getValue();
            if (values.isEmpty()) {
                continue;
            }
            if (!satisfies(found, values)) {
                return false;
            }
        }
        return true;
    }

    private static boolean satisfies(Protos.Attribute a, List<String> values) {
        switch (a.getType()) {
            case TEXT:
                return values.contains(a.getText().getValue());
            case SCALAR:
                for (String v : values) {
                    if (Double.parseDouble(v) <= a.getScalar().getValue()) {
                        return true;
                    }
                }
                return false;
            case RANGES:
                for (String v : values) {
                    long x = Long.parseLong(v);
                    for (Protos.Value.Range r : a.getRanges().getRangeList()) {
                        if (r.getBegin() <= x && x <= r.getEnd()) {
                            return true;
                        }
                    }
                }
                return false;
            case SET:
                return a.getSet().getItemList().containsAll(values);
            default:
                return false;
        }
    }
}
