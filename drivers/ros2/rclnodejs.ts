/**
 * The one file that imports rclnodejs (test/architecture.test.ts and DESIGN.md: optional native
 * libraries load lazily in exactly one place). rclnodejs is an optional dependency and needs a
 * sourced ROS 2; without either, `loadRclnodejs` fails with a message that says what to do.
 *
 * The types below are the part of rclnodejs's API engram uses (rclnodejs ships no types we can
 * depend on when it is absent).
 */

export interface RosQoS {
  depth: number;
}

export interface RosSubscription {
  readonly topic: string;
}
export interface RosPublisher {
  publish(message: object): void;
}
export interface RosNode {
  createSubscription(
    type: string,
    topic: string,
    options: { qos: RosQoS },
    callback: (message: unknown) => void,
  ): RosSubscription;
  createPublisher(type: string, topic: string, options: { qos: RosQoS }): RosPublisher;
  destroy(): void;
}

export interface Rclnodejs {
  init(): Promise<void>;
  Node: new (name: string) => RosNode;
  spin(node: RosNode): void;
  shutdown(): void;
  QoS: {
    new (history?: number, depth?: number, reliability?: number): RosQoS;
    HistoryPolicy: { RMW_QOS_POLICY_HISTORY_KEEP_LAST: number };
    ReliabilityPolicy: {
      RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: number;
      RMW_QOS_POLICY_RELIABILITY_RELIABLE: number;
    };
  };
}

export const ros2InstallHint =
  'the ROS 2 driver needs a sourced ROS 2 and rclnodejs: install ROS 2 (Humble, Jazzy or newer: ' +
  'https://docs.ros.org/en/jazzy/Installation.html), then in this shell `source /opt/ros/<distro>/setup.bash`, ' +
  'and install rclnodejs against it (`npm install rclnodejs`, which builds for the sourced distro). ' +
  'Or choose driver kind zmq or sim.';

/** Why ROS 2 cannot be used here, or undefined when it can (checked without importing anything). */
export function ros2Unavailable(): string | undefined {
  if (!process.env.AMENT_PREFIX_PATH) return `no sourced ROS 2 (AMENT_PREFIX_PATH is unset); ${ros2InstallHint}`;
  return undefined;
}

let loaded: Promise<Rclnodejs> | undefined;

/** Imports rclnodejs once; rejects with an installation hint when ROS 2 or rclnodejs is missing. */
export function loadRclnodejs(): Promise<Rclnodejs> {
  loaded ??= (async () => {
    const missing = ros2Unavailable();
    if (missing) throw new Error(missing);
    // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
    const specifier = 'rclnodejs';
    try {
      const module = (await import(specifier)) as { default?: Rclnodejs } & Rclnodejs;
      return module.default ?? module;
    } catch (error) {
      throw new Error(`rclnodejs could not be loaded (${(error as Error).message}); ${ros2InstallHint}`);
    }
  })();
  return loaded;
}
