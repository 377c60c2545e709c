#include "setup/internal/units.h"

#include <algorithm>

#include "setup/units_data.h"

namespace dualkey::setup::internal {
namespace {

void ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  for (std::size_t at = text->find(from); at != std::string::npos;
       at = text->find(from, at + to.size()))
    text->replace(at, from.size(), to);
}

}  // namespace

std::vector<Unit> RenderUnits(const UnitValues& values) {
  std::vector<Unit> units;
  for (const UnitTemplate& unit : kUnitTemplates) {
    std::string text = unit.text;
    ReplaceAll(&text, "@BINARY@", values.binary);
    ReplaceAll(&text, "@DAEMON_USER@", values.daemon_user);
    ReplaceAll(&text, "@DAEMON_GROUP@", values.daemon_group);
    ReplaceAll(&text, "@STATE_DIR@", values.state_dir);
    ReplaceAll(&text, "@SOCKET@", values.socket);
    ReplaceAll(&text, "@CONFIG_DIR@", values.config_dir);
    units.push_back({unit.name, std::move(text)});
  }
  std::stable_sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) {
    return (a.name == "dualkey.service") > (b.name == "dualkey.service");
  });
  return units;
}

}  // namespace dualkey::setup::internal
