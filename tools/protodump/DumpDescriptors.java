import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the FileDescriptorProtos embedded in a mesos jar's generated Protos classes as a
 * serialized google.protobuf.FileDescriptorSet.
 *
 * Works through reflection only, so the same program reads Apache's plain jar (protobuf under
 * com.google.protobuf) and its shaded-protobuf jar (relocated to org.apache.mesos.protobuf).
 *
 * Usage: java -cp <mesos jar>:<protobuf-java jar> DumpDescriptors.java <out.pb> <Protos class>...
 */
public class DumpDescriptors {
    public static void main(String[] args) throws Exception {
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (int i = 1; i < args.length; i++) {
            Class<?> outer;
            try {
                outer = Class.forName(args[i]);
            } catch (ClassNotFoundException e) {
                System.err.println("skipping missing class " + args[i]);
                continue;
            }
            collect(outer.getMethod("getDescriptor").invoke(null), files);
        }
        // FileDescriptorSet { repeated FileDescriptorProto file = 1; }, dependencies first.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] file : files.values()) {
            out.write(0x0a);
            writeVarint(out, file.length);
            out.write(file);
        }
        try (FileOutputStream f = new FileOutputStream(args[0])) {
            f.write(out.toByteArray());
        }
        System.err.println("wrote " + files.size() + " files to " + args[0]);
    }

    private static void collect(Object fileDescriptor, Map<String, byte[]> files) throws Exception {
        Class<?> c = fileDescriptor.getClass();
        String name = (String) c.getMethod("getName").invoke(fileDescriptor);
        if (files.containsKey(name)) {
            return;
        }
        List<?> deps = (List<?>) c.getMethod("getDependencies").invoke(fileDescriptor);
        for (Object dep : new ArrayList<>(deps)) {
            collect(dep, files);
        }
        Object proto = c.getMethod("toProto").invoke(fileDescriptor);
        Method toBytes = proto.getClass().getMethod("toByteArray");
        files.put(name, (byte[]) toBytes.invoke(proto));
    }

    private static void writeVarint(ByteArrayOutputStream out, int value) {
        while ((value & ~0x7f) != 0) {
            out.write((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        out.write(value);
    }
}
