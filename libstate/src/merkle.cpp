#include "libstate/merkle.h"

#include <vector>

namespace dk {

ObjectId MerkleRoot(std::span<const ObjectId> leaves) {
  Sha256 h;
  if (leaves.empty()) {
    const uint8_t tag = 0x02;
    h.Update({&tag, 1});
    return h.Finish();
  }
  std::vector<ObjectId> level(leaves.begin(), leaves.end());
  const uint8_t node_tag = 0x01;
  while (level.size() > 1) {
    size_t out = 0;
    for (size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {
        level[out++] = level[i];
        break;
      }
      h.Update({&node_tag, 1});
      h.Update(level[i].View());
      h.Update(level[i + 1].View());
      level[out++] = h.Finish();
    }
    level.resize(out);
  }
  const uint8_t root_tag = 0x00;
  h.Update({&root_tag, 1});
  h.Update(level[0].View());
  return h.Finish();
}

}  // namespace dk
