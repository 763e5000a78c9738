import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { TOKEN_SECRET, UID } from './names.js';

/**
 * Every pod runs as one fixed non-root uid, with the "restricted" Pod
 * Security Standard's settings (the Namespace enforces that standard).
 * fsGroup makes mounted volumes readable by the pod's group.
 */
export const POD_SECURITY: IPodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: UID,
  runAsGroup: UID,
  fsGroup: UID,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** Every container: nothing to escalate to, nothing to write outside its volumes. */
export const CONTAINER_SECURITY: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

/** Where a token file is copied to, owned by the pod's uid with mode 0400. */
export const TOKEN_DIR = '/run/linkwatch/tokens';
const SECRET_DIR = '/run/linkwatch/secret';

/**
 * The tokens Secret, mounted only into an init container that copies one key
 * to a memory-backed emptyDir with mode 0400, owned by the pod's uid.
 *
 * Why not mount the Secret straight into the app with `defaultMode: 0400`?
 * A Secret volume's files belong to root; a non-root uid can read them only
 * through fsGroup, and with fsGroup set the kubelet adds group read to every
 * file (0400 becomes 0440, kubernetes/kubernetes#57923). The CLI then warns,
 * ssh-style, that the token file is readable by others, and rightly so. The
 * copy is readable by its owner alone. A rotated Secret reaches the pod at its
 * next restart (`kubectl rollout restart`), which is also when the CLI would
 * read the file again.
 */
export function tokenVolumes(
  key: string,
  image: string,
): { volumes: IVolume[]; init: IContainer; file: string } {
  const file = `${TOKEN_DIR}/${key}`;
  return {
    file,
    volumes: [
      {
        name: 'token-secret',
        secret: { secretName: TOKEN_SECRET, defaultMode: 0o400, items: [{ key, path: key, mode: 0o400 }] },
      },
      { name: 'tokens', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    ],
    init: {
      name: 'copy-token',
      image,
      command: ['sh', '-c', `cp "${SECRET_DIR}/${key}" "${file}" && chmod 0400 "${file}"`],
      securityContext: CONTAINER_SECURITY,
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } },
      volumeMounts: [
        { name: 'token-secret', mountPath: SECRET_DIR, readOnly: true },
        { name: 'tokens', mountPath: TOKEN_DIR },
      ],
    },
  };
}

/** The app container's read-only view of the copied token. */
export const TOKEN_MOUNT = { name: 'tokens', mountPath: TOKEN_DIR, readOnly: true };
